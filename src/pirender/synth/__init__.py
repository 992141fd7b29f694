"""pirender.synth"""
