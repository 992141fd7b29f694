"""pirender.engine"""
