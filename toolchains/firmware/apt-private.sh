#!/bin/sh
# apt-private.sh DIR KIND COMMAND [ARGS...]: run apt-get or apt-cache on
# Debian's archive through a private configuration kept in DIR, without
# touching this machine's apt sources, state or dpkg architectures (no
# `dpkg --add-architecture`, no root needed). KIND is what the private
# sources list holds:
#   src        deb-src lines (for `apt-get source`)
#   ARCH       binary packages of that architecture (arm64, armhf, amd64),
#              for `apt-get download` and `apt-cache depends/show`
# The index is fetched once (`apt-get update`) and again when a day old.
# Signatures are checked as usual (debian-archive-keyring).
# Environment: FIELDCAM_DEBIAN_MIRROR (default http://deb.debian.org/debian),
# FIELDCAM_DEBIAN_SUITE (default bookworm).
set -eu
[ $# -ge 3 ] || { echo "usage: $0 DIR src|ARCH apt-get|apt-cache ARGS..." >&2; exit 2; }
dir=$1 kind=$2
shift 2
mirror=${FIELDCAM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${FIELDCAM_DEBIAN_SUITE:-bookworm}
mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/empty"
opt=""
kr=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f $kr ] && opt="signed-by=$kr"
case $kind in
src) type=deb-src ;;
*) type=deb opt="arch=$kind${opt:+ $opt}" ;;
esac
list=$(
	echo "$type [$opt] $mirror $suite main"
	echo "$type [$opt] $mirror $suite-updates main"
	case $mirror in
	*deb.debian.org*) echo "$type [$opt] ${mirror%/debian}/debian-security $suite-security main" ;;
	esac
)
if [ ! -f "$dir/sources.list" ] || [ "$(cat "$dir/sources.list")" != "$list" ]; then
	echo "$list" >"$dir/sources.list"
	rm -f "$dir/updated"
fi
: >>"$dir/status"
{
	echo "Dir::Etc::SourceList \"$dir/sources.list\";"
	echo "Dir::Etc::SourceParts \"$dir/empty\";"
	echo "Dir::Etc::Preferences \"/nonexistent\";"
	echo "Dir::Etc::PreferencesParts \"$dir/empty\";"
	echo "Dir::State::Lists \"$dir/lists\";"
	echo "Dir::State::Status \"$dir/status\";"
	echo "Dir::Cache \"$dir/cache\";"
	echo "Debug::NoLocking \"true\";"
	echo "APT::Sandbox::User \"$(id -un)\";"
	case $kind in
	src) ;;
	*) echo "APT::Architecture \"$kind\";"
	   echo "APT::Architectures { \"$kind\"; };" ;;
	esac
} >"$dir/apt.conf"
APT_CONFIG=$dir/apt.conf
export APT_CONFIG
if [ ! -f "$dir/updated" ] || [ -n "$(find "$dir/updated" -mmin +1440 2>/dev/null)" ]; then
	apt-get -q update >"$dir/update.log" 2>&1 || {
		cat "$dir/update.log" >&2
		echo "apt-private: apt-get update failed" >&2
		exit 1
	}
	: >"$dir/updated"
fi
exec "$@"
