"""pirender.losses"""
