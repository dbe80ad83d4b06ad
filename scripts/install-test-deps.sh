#!/usr/bin/env bash
# System packages the test suite talks to for real: ffmpeg (camera streams),
# mosquitto (MQTT broker), chromium (HMI end-to-end), PyTorch + ONNX (the
# training scripts), fonts for readable screenshots. Debian 12 package names.
set -euo pipefail
packages=(ffmpeg mosquitto chromium fonts-dejavu-core python3 python3-torch python3-onnx python3-numpy)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "test dependencies present: ${packages[*]}"
  exit 0
fi
echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
