# fake_gpu DIR NAME DRIVER CUDA: writes DIR/nvidia-smi, a stand-in that prints what nvidia-smi
# prints on a host with that GPU and driver (the CSV query and the banner's "CUDA Version"). Test
# data for machines without a GPU: put DIR first on a worker's PATH.
fake_gpu() {
  local dir=$1 name=$2 driver=$3 cuda=$4
  mkdir -p "$dir"
  cat >"$dir/nvidia-smi" <<EOF
#!/bin/sh
case "\$*" in
  *--query-gpu*) echo "$name, $driver, 24564" ;;
  *) echo "| NVIDIA-SMI $driver    Driver Version: $driver    CUDA Version: $cuda     |" ;;
esac
EOF
  chmod +x "$dir/nvidia-smi"
}

# make_episode FILE MINUTES: a mono 128 kbit/s MP3 of a tone (the seed's podcast bitrate).
make_episode() {
  ffmpeg -loglevel error -y -f lavfi -i "sine=frequency=220:duration=$(($2 * 60))" -ac 1 \
    -ar 22050 -b:a 128k "$1"
}
