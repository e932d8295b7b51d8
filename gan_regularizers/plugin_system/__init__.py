"""plugin_system"""
