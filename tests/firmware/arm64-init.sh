#!/bin/busybox sh
# init of the arm64 board VM (test-arm64-vivid.sh): load vivid and 9p from
# Debian's arm64 kernel, mount the host's work folder at /out, run
# /out/guest.sh there, keep its exit status in /out/rc, power off.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
# modules depend on each other: load in rounds until all are in
for round in 1 2 3 4 5 6; do
	for m in /lib/modules/*.ko; do
		# one capture node whose input 0 is a webcam (native 1280x720, not a
		# 720x576 TV picture composed into a larger frame)
		case $m in */vivid.ko) opts="n_devs=1 node_types=0x1 input_types=0x0" ;; *) opts="" ;; esac
		insmod "$m" $opts 2>/dev/null
	done
done
mkdir -p /out
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 outfs /out; then
	cd /out && sh /out/guest.sh /out >/out/guest.log 2>&1
	echo $? >/out/rc
	sync
else
	echo "arm64-init: no output share"
fi
poweroff -f
