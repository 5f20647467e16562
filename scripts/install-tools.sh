#!/usr/bin/env bash
# Installs Prometheus, promtool, Alertmanager and a CJK font (the snapshots draw 爆单) from
# Debian's packages when they are missing.
# Needs root or sudo; services are not started (the tests and the demo start their own, on loopback).
set -euo pipefail
missing=()
command -v prometheus >/dev/null || missing+=(prometheus)
command -v promtool >/dev/null || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null || missing+=(prometheus-alertmanager)
# any CJK font will do (dashboards/fonts.py lists them); WenQuanYi Micro Hei is the smallest
cjk_fonts="$(fc-list :lang=zh family 2>/dev/null || true)"
[ -n "$cjk_fonts" ] || dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || missing+=(fonts-wqy-microhei)
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-tools: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
if ! command -v apt-get >/dev/null; then
  echo "install-tools: no apt-get here; install ${missing[*]} (Prometheus >= 2.42, Alertmanager >= 0.25, a CJK font) yourself" >&2
  exit 1
fi
echo "install-tools: installing ${missing[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
