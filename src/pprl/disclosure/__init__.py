"""pprl.disclosure"""
