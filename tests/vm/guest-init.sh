#!/bin/busybox sh
# The VM's init: load vivid and 9p, mount this machine's root read-only and
# the output folder read-write, chroot and run the test script.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# modules depend on each other: load in rounds until all are in
for round in 1 2 3 4 5 6; do
	for m in /lib/modules/*.ko; do
		case $m in */vivid.ko) opts="n_devs=1 node_types=0x1 input_types=0x0" ;; *) opts="" ;; esac
		insmod "$m" $opts 2>/dev/null
	done
done
out=$(sed -n 's/.*fc_out=\([^ ]*\).*/\1/p' /proc/cmdline)
mount -t 9p -o trans=virtio,version=9p2000.L,ro hostfs /host
# no tmpfs over /tmp: the checkout and the build may live there; the
# output share is the scratch space (TMPDIR)
mount -t 9p -o trans=virtio,version=9p2000.L outfs "/host$out" || { echo "no output share"; poweroff -f; }
mount -o bind /dev /host/dev
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t tmpfs tmpfs /host/run
script=$(cat "/host$out/script")
chroot /host /bin/sh -c 'cd "$1"; HOME=$1; TMPDIR=$1; export HOME TMPDIR; out=$1; shift; script=$1; shift; set -- $(cat "$out/args"); exec sh "$script" "$out" "$@"' sh "$out" "$script" >"/host$out/guest.log" 2>&1
echo $? >"/host$out/rc"
sync
poweroff -f
