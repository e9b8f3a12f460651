#!/usr/bin/env bash
# Install the real servers the tests run against: Dovecot and PostgreSQL from Debian (and
# groff, which checks the generated man page).
# Radicale and aiosmtpd come from PyPI with the test extras. Idempotent; needs root or sudo.
set -euo pipefail
need=()
command -v /usr/sbin/dovecot >/dev/null 2>&1 || need+=(dovecot-imapd)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v groff >/dev/null 2>&1 || need+=(groff-base)  # renders the man page in a test
# Courier-IMAP conflicts with dovecot-imapd: unpacked under /opt/courier-imap, never installed.
COURIER=/opt/courier-imap
courier=()
[ -x "$COURIER/usr/bin/imapd" ] || courier=(courier-imap courier-base courier-authlib
  libcourier-unicode4 libgamin0 gamin libidn12)
# Cyrus IMAP likewise, under /opt/cyrus-imapd, with the libraries this machine lacks; its
# master process runs services as the system user "cyrus".
CYRUS=/opt/cyrus-imapd
cyrus=()
if [ ! -x "$CYRUS/usr/lib/cyrus/bin/master" ]; then
  cyrus=(cyrus-imapd cyrus-common)
  for lib in libxapian30 libpcre3 libical3 libzephyr4 libclamav12 libjansson4 libwrap0 \
             libpq5 libicu72 libsasl2-2 libsasl2-modules; do
    dpkg -s "$lib" >/dev/null 2>&1 || cyrus+=("$lib")
  done
fi
if [ ${#need[@]} -eq 0 ] && [ ${#courier[@]} -eq 0 ] && [ ${#cyrus[@]} -eq 0 ] \
   && id cyrus >/dev/null 2>&1; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} from Debian's packages" >&2
  $SUDO apt-get update -qq
  # policy-rc.d keeps the packages from starting system-wide daemons; the tests start their own.
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ ${#courier[@]} -gt 0 ]; then
  echo "unpacking ${courier[*]} into $COURIER" >&2
  work="$(mktemp -d)"
  [ ${#need[@]} -gt 0 ] || $SUDO apt-get update -qq
  updated=1
  (cd "$work" && chmod 777 . && apt-get download -qq "${courier[@]}" >/dev/null 2>&1)
  $SUDO mkdir -p "$COURIER"
  for deb in "$work"/*.deb; do $SUDO dpkg -x "$deb" "$COURIER"; done
  rm -rf "$work"
fi
if [ ${#cyrus[@]} -gt 0 ]; then
  echo "unpacking ${cyrus[*]} into $CYRUS" >&2
  [ ${#need[@]} -gt 0 ] || [ -n "${updated:-}" ] || $SUDO apt-get update -qq
  work="$(mktemp -d)"
  (cd "$work" && chmod 777 . && apt-get download -qq "${cyrus[@]}" >/dev/null 2>&1)
  $SUDO mkdir -p "$CYRUS"
  for deb in "$work"/*.deb; do $SUDO dpkg -x "$deb" "$CYRUS"; done
  rm -rf "$work"
fi
id cyrus >/dev/null 2>&1 || $SUDO useradd --system --no-create-home --shell /usr/sbin/nologin cyrus
