"""Test harness: runs the real LiteLLM proxy from the gateway env against local stand-ins of the clouds."""
