"""pirender.models"""
