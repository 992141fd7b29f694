"""pirender.data"""
