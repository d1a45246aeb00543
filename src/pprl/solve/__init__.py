"""pprl.solve"""
