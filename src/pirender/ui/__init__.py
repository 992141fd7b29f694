"""pirender.ui"""
