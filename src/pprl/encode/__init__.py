"""pprl.encode"""
