#!/bin/bash
# The shell-script way: what kong-bootstrap does, written the way today's
# EC2 user-data recipes for Kong do it (curl + awscli + jq + pg_isready +
# kong migrations + sed/heredoc + systemctl start + a curl poll).  bench/boot
# runs it on the same test stack as the agent and compares the two; it is
# not part of kong-bootstrap.
#
# Settings come from the environment (a recipe hard-codes them); the
# defaults are an instance's:
#   IMDS_ENDPOINT   http://169.254.169.254
#   SECRET_ID       (required)
#   SM_ENDPOINT     Secrets Manager endpoint for `aws --endpoint-url`
#                   (default: none, i.e. the region's)
#   KONG_BIN        /usr/local/bin/kong
#   KONG_CONF       /etc/kong/kong.conf
#   KONG_ENV_FILE   /run/kong-bootstrap/kong.env
#   KONG_UNIT       kong.service
#   STATUS_LISTEN   0.0.0.0:8100   (the readiness poll uses its port on 127.0.0.1)
#   BUS_ADDRESS     D-Bus address of systemd; unset: `systemctl start`
#   POLL            seconds between pg_isready / readiness polls (0.1)
#   READY_TIMEOUT   seconds to wait for /status/ready (120)
#   BASELINE_STEPS  if set, a file to which each step's end is appended:
#                   "step NAME EPOCHREALTIME", then bash's `times` (the
#                   shell's and its children's user/sys time, cumulative)
set -euo pipefail

IMDS_ENDPOINT=${IMDS_ENDPOINT:-http://169.254.169.254}
: "${SECRET_ID:?SECRET_ID is required}"
KONG_BIN=${KONG_BIN:-/usr/local/bin/kong}
KONG_CONF=${KONG_CONF:-/etc/kong/kong.conf}
KONG_ENV_FILE=${KONG_ENV_FILE:-/run/kong-bootstrap/kong.env}
KONG_UNIT=${KONG_UNIT:-kong.service}
STATUS_LISTEN=${STATUS_LISTEN:-0.0.0.0:8100}
POLL=${POLL:-0.1}
READY_TIMEOUT=${READY_TIMEOUT:-120}

step() {   # no fork: `times` runs in this shell (children's CPU so far, cumulative)
    [ -n "${BASELINE_STEPS:-}" ] || return 0
    { echo "step $1 $EPOCHREALTIME"; times; } >>"$BASELINE_STEPS"
}
die() { echo "baseline-boot: $*" >&2; exit 1; }
step begin

# --- IMDSv2 ------------------------------------------------------------------
TOKEN=$(curl -sf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 21600" "$IMDS_ENDPOINT/latest/api/token") \
    || die "IMDS token"
md() { curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS_ENDPOINT/latest/meta-data/$1"; }
REGION=$(md placement/region) || die "IMDS region"
INSTANCE_ID=$(md instance-id) || die "IMDS instance-id"
MAC=$(md mac) || die "IMDS mac"
VPC_CIDRS=$(md "network/interfaces/macs/$MAC/vpc-ipv4-cidr-blocks" | paste -sd, -) || die "IMDS VPC CIDRs"
ROLE=$(md iam/security-credentials/ | head -n 1) || die "IMDS role"
CREDS=$(md "iam/security-credentials/$ROLE") || die "IMDS credentials"
AWS_ACCESS_KEY_ID=$(jq -r .AccessKeyId <<<"$CREDS")
AWS_SECRET_ACCESS_KEY=$(jq -r .SecretAccessKey <<<"$CREDS")
AWS_SESSION_TOKEN=$(jq -r .Token <<<"$CREDS")
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
echo "baseline-boot: instance $INSTANCE_ID in $REGION, VPC $VPC_CIDRS, role $ROLE" >&2
step imds

# --- Secrets Manager ---------------------------------------------------------
SECRET=$(aws secretsmanager get-secret-value --region "$REGION" ${SM_ENDPOINT:+--endpoint-url "$SM_ENDPOINT"} \
    --secret-id "$SECRET_ID" --query SecretString --output text) || die "GetSecretValue"
PG_USER=$(jq -r .username <<<"$SECRET")
PG_PASSWORD=$(jq -r .password <<<"$SECRET")
PG_HOST=$(jq -r .host <<<"$SECRET")
PG_PORT=$(jq -r '.port // 5432' <<<"$SECRET")
PG_DATABASE=$(jq -r '.dbname // "kong"' <<<"$SECRET")
step secrets

# --- wait for PostgreSQL -----------------------------------------------------
until pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -d "$PG_DATABASE" -U "$PG_USER"; do sleep "$POLL"; done
step database

# --- kong migrations ---------------------------------------------------------
export KONG_DATABASE=postgres KONG_PG_HOST=$PG_HOST KONG_PG_PORT=$PG_PORT KONG_PG_USER=$PG_USER \
    KONG_PG_DATABASE=$PG_DATABASE KONG_PG_PASSWORD=$PG_PASSWORD
rc=0
"$KONG_BIN" migrations list >/dev/null 2>&1 || rc=$?
case $rc in
    0) ;;
    3) "$KONG_BIN" migrations bootstrap >&2 || die "kong migrations bootstrap" ;;
    4 | 5) "$KONG_BIN" migrations up >&2 || die "kong migrations up" ;;
    *) die "kong migrations list exited $rc" ;;
esac
unset KONG_DATABASE KONG_PG_HOST KONG_PG_PORT KONG_PG_USER KONG_PG_DATABASE KONG_PG_PASSWORD
step migrations

# --- render kong.conf and the env file ---------------------------------------
mkdir -p "$(dirname "$KONG_CONF")" "$(dirname "$KONG_ENV_FILE")"
cat >"$KONG_CONF.tmp" <<EOF
# written by user-data on $(date -u +%FT%TZ) for @INSTANCE_ID@
database = postgres
pg_host = @PG_HOST@
pg_port = @PG_PORT@
pg_user = @PG_USER@
pg_database = @PG_DATABASE@
pg_ssl = off
proxy_listen = 0.0.0.0:8000 proxy_protocol, 0.0.0.0:8443 http2 ssl proxy_protocol
admin_listen = 127.0.0.1:8001
status_listen = @STATUS_LISTEN@
real_ip_header = proxy_protocol
trusted_ips = @TRUSTED_IPS@
EOF
sed -i -e "s|@INSTANCE_ID@|$INSTANCE_ID|" -e "s|@PG_HOST@|$PG_HOST|" -e "s|@PG_PORT@|$PG_PORT|" \
    -e "s|@PG_USER@|$PG_USER|" -e "s|@PG_DATABASE@|$PG_DATABASE|" -e "s|@STATUS_LISTEN@|$STATUS_LISTEN|" \
    -e "s|@TRUSTED_IPS@|$VPC_CIDRS|" "$KONG_CONF.tmp"
mv "$KONG_CONF.tmp" "$KONG_CONF"
# systemd EnvironmentFile=: double quotes, backslash before \ " ` $
umask 077
printf 'KONG_PG_PASSWORD="%s"\n' "$(sed -e 's/[\\"`$]/\\&/g' <<<"$PG_PASSWORD")" >"$KONG_ENV_FILE.tmp"
mv "$KONG_ENV_FILE.tmp" "$KONG_ENV_FILE"
step render

# --- start kong.service --------------------------------------------------------
if [ -n "${BUS_ADDRESS:-}" ]; then
    # what `systemctl start` sends; systemctl itself only talks to the real systemd
    busctl --address="$BUS_ADDRESS" call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
        org.freedesktop.systemd1.Manager StartUnit ss "$KONG_UNIT" replace >/dev/null || die "StartUnit"
else
    systemctl start "$KONG_UNIT" || die "systemctl start $KONG_UNIT"
fi
step start

# --- wait for Kong -----------------------------------------------------------
READY_URL="http://127.0.0.1:${STATUS_LISTEN##*:}/status/ready"
deadline=$((SECONDS + READY_TIMEOUT))
until curl -sf -o /dev/null "$READY_URL"; do
    [ $SECONDS -lt $deadline ] || die "Kong not ready after ${READY_TIMEOUT}s"
    sleep "$POLL"
done
step ready
echo "baseline-boot: Kong ready" >&2
