// What a worker tells the coordinator about the machine it runs on.
#pragma once

#include "core/model.h"

namespace podfleet {

// CPU model and cores (/proc/cpuinfo), memory (/proc/meminfo), OS (uname) and NVIDIA GPUs (name,
// driver, memory, and the driver's CUDA version from its banner, through nvidia-smi when it is
// installed). Missing facts are left empty.
Hardware DetectHardware();

}  // namespace podfleet
