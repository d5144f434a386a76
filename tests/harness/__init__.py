"""A fault-injection harness: real worker processes, a real queue, faults on a schedule."""
