package com.reactive.platform.gateway.microbatch;

/**
 * 128 bytes of padding placed before a class's own fields, so they never share a cache line
 * (or the adjacent-line prefetch pair) with the object header's neighbours on the heap. The
 * JVM lays out superclass fields first, which is what makes padding by inheritance work.
 */
abstract class Pad128 {
    long p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, p12, p13, p14, p15, p16;
}
