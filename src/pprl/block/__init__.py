"""pprl.block"""
