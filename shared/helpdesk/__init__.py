"""The helpdesk's own shared package: domain model, services, channel connectors, AWS adapters.

Deployed as the Lambda layer (``shared/`` → ``/opt/python``); importable the same way in tests via
``pythonpath = ["shared", "."]``. Domain modules never import boto3: AWS access sits in
``helpdesk.adapters``.
"""
