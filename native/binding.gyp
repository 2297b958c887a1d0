{
  "targets": [
    {
      "target_name": "sluice_native",
      "sources": ["src/addon.cc", "src/common.cc", "src/netns.cc", "src/netlink.cc", "src/bpf.cc", "src/cgroup.cc", "src/lock.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"],
      "libraries": ["-lpthread"]
    },
    {
      "target_name": "sluice-cni",
      "type": "executable",
      "sources": ["shim/sluice-cni.c"],
      "cflags": ["-std=c11", "-O2", "-Wall", "-Wextra"],
      "ldflags": ["-static"]
    }
  ]
}
