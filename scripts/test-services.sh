# Sourced by `make test`: makes sure PostgreSQL runs and Chromium is installed, then exports
# GUANXI_TEST_PG_URL. Installs what is missing with apt-get (CI runs as root, no stdin).
set -euo pipefail

_as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
_apt_updated=""
_apt_install() {
  [ -n "$_apt_updated" ] || { _as_root apt-get update -qq; _apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive _as_root apt-get install -y -qq "$@" >/dev/null
}

if ! command -v pg_ctlcluster >/dev/null; then
  echo "test-services: installing PostgreSQL" >&2
  _apt_install postgresql
fi
if ! command -v chromium >/dev/null; then
  echo "test-services: installing Chromium" >&2
  _apt_install chromium
fi
# A CJK font, so that screenshots of the Chinese console show characters, not boxes.
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  echo "test-services: installing a CJK font" >&2
  _apt_install fonts-wqy-microhei
fi

pg_version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_version" ]; then
  echo "test-services: no PostgreSQL cluster found under /etc/postgresql" >&2
  return 1 2>/dev/null || exit 1
fi
if ! pg_ctlcluster "$pg_version" main status >/dev/null 2>&1; then
  echo "test-services: starting PostgreSQL $pg_version" >&2
  _as_root pg_ctlcluster "$pg_version" main start
fi
for _ in $(seq 1 30); do
  pg_isready -q -h /var/run/postgresql && break
  sleep 1
done

me=$(id -un)
if ! _as_root runuser -u postgres -- psql -tAc "SELECT 1 FROM pg_roles WHERE rolname='$me'" | grep -q 1; then
  _as_root runuser -u postgres -- createuser --superuser "$me"
fi
export GUANXI_TEST_PG_URL="postgresql://$me@/postgres?host=/var/run/postgresql"
export GUANXI_TEST_CHROMIUM="$(command -v chromium)"
set +euo pipefail
