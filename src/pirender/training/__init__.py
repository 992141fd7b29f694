"""pirender.training"""
