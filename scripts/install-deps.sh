#!/usr/bin/env bash
# Installs what Holdfast and its tests need on Debian/Ubuntu, only what is missing: redis-server
# (the queue), and for the tests and benchmarks swaks, openssl, dovecot-lmtpd, postfix (smtp-source,
# and the benchmark's Postfix peer), chromium (the status page test), redis-sentinel (the failover test)
# and cyrus-imapd with sasl2-bin (the Cyrus test's private instance and its SASL database).
set -euo pipefail

want=()
command -v redis-server >/dev/null || want+=(redis-server)
command -v openssl >/dev/null || want+=(openssl)
if [ "${1:-}" = "--test" ]; then
  command -v swaks >/dev/null || want+=(swaks)
  { [ -x /usr/sbin/smtp-source ] && [ -x /usr/sbin/postfix ]; } || want+=(postfix)
  [ -x /usr/lib/dovecot/lmtp ] || want+=(dovecot-lmtpd)
  # The status page's end-to-end test drives Debian's Chromium with playwright-core.
  [ -x /usr/bin/chromium ] || want+=(chromium)
  # The failover test runs three sentinels (without the package it uses redis-server --sentinel).
  command -v redis-sentinel >/dev/null || want+=(redis-sentinel)
  # The Cyrus test (test/helpers/cyrus.ts) runs its own cyrus-imapd in a temp dir; saslpasswd2 writes
  # its private SASL database, and libsasl2-modules brings the PLAIN mechanism lmtpd offers.
  [ -x /usr/lib/cyrus/bin/imapd ] || want+=(cyrus-imapd)
  command -v saslpasswd2 >/dev/null || want+=(sasl2-bin)
  compgen -G '/usr/lib/*/sasl2/libplain.so*' >/dev/null || want+=(libsasl2-modules)
fi
if [ ${#want[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${want[*]}"
  $sudo apt-get update -qq
  if [[ " ${want[*]} " == *" postfix "* ]]; then
    # The benchmark runs its own Postfix instance in a temp dir (bench/postfix.ts): answer Debian's
    # question with "No configuration", so the system's Postfix gets no main.cf and never starts.
    echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
  fi
  # Debian starts packaged daemons on install; Holdfast runs its own instances, so keep them off.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $sudo apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
  # Should the system's Cyrus have started all the same (its master's pid file is there), stop it:
  # it would hold the mail ports and Debian's sockets; the tests never use it.
  if [[ " ${want[*]} " == *" cyrus-imapd "* ]] && [ -s /run/cyrus-master.pid ]; then
    $sudo /etc/init.d/cyrus-imapd stop >/dev/null 2>&1 || $sudo kill "$(cat /run/cyrus-master.pid)" 2>/dev/null || true
  fi
fi

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "Holdfast needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi
