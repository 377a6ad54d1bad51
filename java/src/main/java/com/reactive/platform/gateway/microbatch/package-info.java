/**
 * Adaptive microbatching for Kafka: many threads submit small events, flush threads send them
 * in frames of N events or once the oldest has waited T, with N and T chosen per pressure level
 * from the observed rate and learned per level by {@link
 * com.reactive.platform.gateway.microbatch.BatchCalibration}.
 *
 * <p>Start at {@link com.reactive.platform.gateway.microbatch.MicrobatchCollector}: one
 * interface, two implementations (pure Java, and the Rust library through JNI), chosen by the
 * key or system property {@code microbatch.impl}. {@link
 * com.reactive.platform.gateway.microbatch.Frames} decodes the frames consumers read from Kafka.
 */
package com.reactive.platform.gateway.microbatch;
