"""AWS adapters: the only modules of the package that talk to AWS (boto3)."""
