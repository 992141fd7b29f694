"""pirender.audio"""
