"""Performance measurement: step throughput, the machine's peak, and the kernel ceiling."""
