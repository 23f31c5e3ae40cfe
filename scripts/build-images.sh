#!/usr/bin/env bash
# Builds the local images Nimbus's compute tests and `make up` use (no registry is reachable):
#   localhost/nimbus/busybox   Debian's busybox-static + its applet symlinks, /www/index.html
# The image goes into the project-local podman of scripts/podman.sh (same NIMBUS_PODMAN_DIR).
# Idempotent: an existing image is kept unless --force is given.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
podman_sh="$repo/scripts/podman.sh"
image=localhost/nimbus/busybox
force=${1:-}

busybox=/bin/busybox
[ -x "$busybox" ] || busybox=/usr/bin/busybox
[ -x "$busybox" ] || { echo "build-images.sh: busybox-static is not installed (apt-get install busybox-static)" >&2; exit 1; }
# A dynamically linked busybox would need its libraries in the rootfs.
if ! file -b "$busybox" 2>/dev/null | grep -q "static" && ldd "$busybox" >/dev/null 2>&1; then
  echo "build-images.sh: $busybox is not statically linked (install busybox-static)" >&2; exit 1
fi

if [ "$force" != "--force" ] && "$podman_sh" podman image exists "$image"; then
  echo "build-images.sh: $image present"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root"/{bin,etc,www,tmp,proc,sys,dev,root}
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
echo "hello from nimbus busybox" > "$root/www/index.html"
tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$work/rootfs.tar" .

if ! out=$("$podman_sh" podman import \
  --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' --change 'WORKDIR /' \
  "$work/rootfs.tar" "$image" 2>&1); then
  echo "$out" >&2
  echo "build-images.sh: podman import failed (is the project podman set up? scripts/podman.sh start)" >&2
  exit 1
fi
echo "build-images.sh: built $image"
