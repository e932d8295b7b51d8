"""centroid"""
