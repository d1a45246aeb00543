"""pprl.datasets"""
