#!/usr/bin/env bash
# Installs everything servin needs on a fresh Debian machine, then builds it:
# pnpm (from npm: corepack's download fails its signature check here), the
# Debian packages the runtime and its tests use (only when missing, only as
# root), the npm dependencies from the lockfile, and the packages' dist/.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pnpm >/dev/null 2>&1; then
  echo "install: pnpm not found; installing pnpm 9 with npm"
  npm install -g pnpm@9.15.9 >/dev/null
fi

# runtime: runc crun conmon catatonit containernetworking-plugins iproute2, and for streaming sessions
#   python3 (attach: relays conmon's SOCK_SEQPACKET attach socket) and busybox-static (port-forward: nc
#   run by nsenter in the pod's netns; also the test images); nsenter and script come with util-linux/bsdutils
# tests and benchmarks: docker-registry skopeo umoci apache2-utils (htpasswd)
DEB_PACKAGES=(runc crun conmon catatonit containernetworking-plugins iproute2 python3 busybox-static docker-registry skopeo umoci apache2-utils)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "install: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "install: not root (or no apt-get): skipping Debian packages; the oci backend needs: ${DEB_PACKAGES[*]}"
fi

pnpm install --frozen-lockfile
pnpm build
