"""Code the CDK app deploys from this package (imports no CDK, so Lambda can load it)."""
