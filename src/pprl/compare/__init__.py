"""pprl.compare"""
