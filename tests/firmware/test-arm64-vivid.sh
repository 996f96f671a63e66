#!/bin/sh
# test-arm64-vivid.sh FIELDCAM WORKDIR: the ARM board test. Boots Debian's
# arm64 kernel under qemu-system-aarch64 (-M virt -cpu cortex-a72, the
# Raspberry Pi 4's core; TCG) with the kernel's vivid V4L2 driver, runs the
# static aarch64 FIELDCAM in it (arm64-guest.sh: capture 20 frames, a short
# `run` into the spool under `time -v`), then decodes every JPEG here with
# djpeg and checks it holds a picture (frame-check.py). Prints the peak RSS of `fieldcam run` in the guest.
# Exit 77 (skipped, with the reason) only where QEMU, the tools or Debian's
# arm64 packages cannot be had. The kernel and the initramfs are cached in
# ${XDG_CACHE_HOME:-~/.cache}/fieldcam/vm-arm64.
set -u
bin=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
apt_private=$here/../../toolchains/firmware/apt-private.sh
skip() { echo "arm64-vivid: skipped: $*"; exit 77; }

need="qemu-system-arm cpio gzip libjpeg-turbo-progs python3"
missing=""
for p in $need; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 ||
			skip "cannot install$missing"
	else
		skip "needs$missing (apt-get install -y$missing)"
	fi
fi
command -v qemu-system-aarch64 >/dev/null 2>&1 || skip "no qemu-system-aarch64"
machine=$(readelf -h "$bin" 2>/dev/null | sed -n 's/^ *Machine: *//p')
[ "$machine" = AArch64 ] || { echo "arm64-vivid: $bin is not an aarch64 binary ($machine)"; exit 1; }

cache=${XDG_CACHE_HOME:-$HOME/.cache}/fieldcam/vm-arm64
mkdir -p "$cache"
apt() { sh "$apt_private" "$cache/apt" arm64 "$@"; }
pkg=$(apt apt-cache depends linux-image-arm64 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[0-9].*-arm64\)$/\1/p' | head -1)
[ -n "$pkg" ] || skip "Debian's archive does not name an arm64 kernel (linux-image-arm64)"
kver=${pkg#linux-image-}
kdir=$cache/$kver
stamp=$(cat "$here/arm64-init.sh" | cksum | cut -d' ' -f1)
if [ ! -f "$kdir/initrd.gz" ] || [ "$(cat "$kdir/init.cksum" 2>/dev/null)" != "$stamp" ]; then
	echo "arm64-vivid: preparing $kver and busybox (arm64) in $kdir"
	rm -rf "$kdir.tmp"
	mkdir -p "$kdir.tmp/deb"
	(cd "$kdir.tmp/deb" && apt apt-get download "$pkg" busybox-static >download.log 2>&1) ||
		skip "cannot download $pkg busybox-static (arm64): $(tail -2 "$kdir.tmp/deb/download.log")"
	for d in "$kdir.tmp"/deb/*.deb; do dpkg -x "$d" "$kdir.tmp/x"; done
	cp "$kdir.tmp/x/boot/vmlinuz-$kver" "$kdir.tmp/vmlinuz"
	root=$kdir.tmp/root
	mkdir -p "$root/bin" "$root/lib/modules" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
	cp "$kdir.tmp/x/bin/busybox" "$root/bin/busybox"
	mods="videobuf2-memops videobuf2-vmalloc videobuf2-dma-contig v4l2-tpg v4l2-dv-timings rc-core
	      cec mc videodev videobuf2-common videobuf2-v4l2 vivid virtio_pci_modern_dev
	      virtio_pci_legacy_dev virtio_pci virtio_mmio netfs fscache 9pnet 9pnet_virtio 9p"
	for m in $mods; do
		f=$(find "$kdir.tmp/x/lib/modules/$kver" -name "$m.ko" -o -name "$(echo "$m" | tr - _).ko" | head -1)
		[ -n "$f" ] && cp "$f" "$root/lib/modules/"
	done
	[ -f "$root/lib/modules/vivid.ko" ] || { echo "arm64-vivid: $pkg has no vivid.ko"; exit 1; }
	cp "$here/arm64-init.sh" "$root/init"
	chmod +x "$root/init"
	(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$kdir.tmp/initrd.gz"
	echo "$stamp" >"$kdir.tmp/init.cksum"
	rm -rf "$kdir.tmp/x" "$kdir.tmp/deb" "$root"
	rm -rf "$kdir"
	mv "$kdir.tmp" "$kdir"
fi

rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
cp "$bin" "$work/fieldcam"
cp "$here/arm64-guest.sh" "$work/guest.sh"
start=$(date +%s)
timeout "${VM_TIMEOUT:-480}" qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 1024 \
	-nographic -no-reboot -nic none -kernel "$kdir/vmlinuz" -initrd "$kdir/initrd.gz" \
	-append "console=ttyAMA0 quiet panic=-1" \
	-virtfs local,path="$work",mount_tag=outfs,security_model=none,multidevs=remap \
	>"$work/console.log" 2>&1
qrc=$?
secs=$(($(date +%s) - start))
if [ ! -f "$work/rc" ]; then
	echo "arm64-vivid: the guest did not finish (qemu exit $qrc after $secs s); console:"
	tail -30 "$work/console.log"
	exit 1
fi
cat "$work/guest.log"
grc=$(cat "$work/rc")
fails=0
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
# every JPEG decodes at the size asked for and holds a picture (not a blank
# or half-filled buffer): frame-check.py
check() { # DIR W H COUNT
	n=$(ls "$1" 2>/dev/null | grep -c '\.jpg$')
	[ "$n" = "$4" ] || bad "$1: $n JPEG files, expected $4"
	[ "$n" = 0 ] && return
	python3 "$here/frame-check.py" "$2" "$3" "$1"/*.jpg >"$1.check" 2>&1 || bad "$(cat "$1.check")"
	checked=$((checked + n))
}
checked=0
check "$work/capture" 1280 720 20
frames=$(sed -n 's/^frames=\${FC_RUN_FRAMES:-\([0-9]*\)}$/\1/p' "$here/arm64-guest.sh")
n=$(python3 "$here/spool-jpegs.py" "$work/spool" "$work/spool-jpegs") || bad "spool: records unreadable"
check "$work/spool-jpegs" 1280 720 "$frames"
rss=$(cat "$work/run-maxrss-kb.txt" 2>/dev/null)
echo "arm64-vivid: $kver, $(cat "$work/uname.txt" 2>/dev/null), VM $secs s; run: peak RSS ${rss:-?} kB"
echo "arm64-vivid: guest exit $grc, $checked JPEG files decoded here ($n from the spool), $fails bad"
[ "$grc" = 0 ] && [ $fails = 0 ]
