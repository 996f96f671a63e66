#!/bin/sh
# vivid-vm.sh SCRIPT OUTDIR [ARGS...]: boot Debian's kernel under QEMU (TCG) with
# the kernel's vivid V4L2 driver loaded, share this machine's root file
# system read-only and OUTDIR read-write, and run SCRIPT (an absolute path)
# with ARGS inside the guest, chrooted into the shared root, as
#   sh SCRIPT OUTDIR ARGS...   (OUTDIR is the same path inside the guest)
# The guest's output goes to OUTDIR/guest.log; the exit status of SCRIPT is
# this script's. Exit 77 (skip) when QEMU or the kernel cannot be had.
# The kernel and the initramfs are cached in ${XDG_CACHE_HOME:-~/.cache}/fieldcam/vm.
set -eu
script=$1 out=$2
shift 2
[ -f "$script" ] || { echo "vivid-vm: no script $script" >&2; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

need="qemu-system-x86 busybox-static cpio v4l-utils libjpeg-turbo-progs"
missing=""
for p in $need; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null ||
			{ echo "vivid-vm: skipped: cannot install$missing" >&2; exit 77; }
	else
		echo "vivid-vm: skipped: needs$missing (apt-get install -y$missing)" >&2
		exit 77
	fi
fi

cache=${XDG_CACHE_HOME:-$HOME/.cache}/fieldcam/vm
mkdir -p "$cache"
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -1)
[ -n "$pkg" ] || { echo "vivid-vm: skipped: apt does not name a kernel for linux-image-amd64" >&2; exit 77; }
kver=${pkg#linux-image-}
kdir=$cache/$kver
if [ ! -f "$kdir/initrd.gz" ]; then
	rm -rf "$kdir.tmp"
	mkdir -p "$kdir.tmp/deb"
	(cd "$kdir.tmp/deb" && apt-get download "$pkg" >/dev/null 2>&1) ||
		{ echo "vivid-vm: skipped: cannot download $pkg" >&2; rm -rf "$kdir.tmp"; exit 77; }
	dpkg -x "$kdir.tmp"/deb/*.deb "$kdir.tmp/x"
	cp "$kdir.tmp/x/boot/vmlinuz-$kver" "$kdir.tmp/vmlinuz"
	root=$kdir.tmp/root
	mkdir -p "$root/bin" "$root/lib/modules" "$root/proc" "$root/sys" "$root/dev" "$root/host" "$root/out"
	cp /bin/busybox "$root/bin/busybox"
	mods="videobuf2-memops videobuf2-vmalloc videobuf2-dma-contig v4l2-tpg v4l2-dv-timings rc-core cec
	      mc videodev videobuf2-common videobuf2-v4l2 vivid virtio virtio_ring virtio_pci_modern_dev
	      virtio_pci_legacy_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p"
	for m in $mods; do
		f=$(find "$kdir.tmp/x/lib/modules/$kver" -name "$m.ko" -o -name "$(echo "$m" | tr - _).ko" | head -1)
		[ -n "$f" ] && cp "$f" "$root/lib/modules/" || true
	done
	cp "$here/guest-init.sh" "$root/init"
	chmod +x "$root/init"
	(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$kdir.tmp/initrd.gz"
	rm -rf "$kdir.tmp/x" "$kdir.tmp/deb" "$root"
	rm -rf "$kdir"
	mv "$kdir.tmp" "$kdir"
fi
# the init script can change without a new kernel: rebuild only the initrd then
if [ "$here/guest-init.sh" -nt "$kdir/initrd.gz" ]; then
	rm -f "$kdir/initrd.gz"
	exec "$0" "$script" "$out" "$@"
fi

rm -f "$out/rc" "$out/guest.log"
printf '%s\n' "$@" >"$out/args"
echo "$script" >"$out/script"
timeout ${VM_TIMEOUT:-600} qemu-system-x86_64 -accel tcg -cpu max -m 2048 -smp 2 -nographic -no-reboot -nic none \
	-kernel "$kdir/vmlinuz" -initrd "$kdir/initrd.gz" \
	-append "console=ttyS0 quiet panic=-1 fc_out=$out" \
	-virtfs local,path=/,mount_tag=hostfs,security_model=none,readonly=on,multidevs=remap \
	-virtfs local,path="$out",mount_tag=outfs,security_model=none,multidevs=remap \
	>"$out/console.log" 2>&1 || true
if [ ! -f "$out/rc" ]; then
	echo "vivid-vm: the guest did not finish; console:" >&2
	tail -30 "$out/console.log" >&2
	exit 1
fi
cat "$out/guest.log"
exit "$(cat "$out/rc")"
