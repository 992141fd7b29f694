"""pirender.weights"""
