package com.reactive.platform.kafka.benchmark;

import java.lang.management.ManagementFactory;
import java.util.Map;
import java.util.Set;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;

/**
 * kafka-clients' own count of the bytes a producer sent to brokers ({@code outgoing-byte-total}:
 * after batching, framing and compression), which is what the network and the broker pay for.
 */
final class WireBytes {
    private static final String METRIC = "outgoing-byte-total";

    private WireBytes() {
    }

    /** {@code producer}'s count; 0 for a stand-in without metrics ({@code MockProducer}). */
    static long of(Producer<?, ?> producer) {
        for (Map.Entry<MetricName, ? extends Metric> e : producer.metrics().entrySet()) {
            MetricName n = e.getKey();
            if (n.name().equals(METRIC) && n.group().equals("producer-metrics")) {
                Object v = e.getValue().metricValue();
                return v instanceof Number num ? num.longValue() : 0;
            }
        }
        return 0;
    }

    /**
     * The sum over every kafka-clients producer in this process, read from the JMX beans every
     * producer registers: for producers owned by code we only reach through its API (the Java
     * collector's). Null when there is none.
     */
    static Long inProcess() {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        try {
            Set<ObjectName> names = server.queryNames(new ObjectName("kafka.producer:type=producer-metrics,*"), null);
            if (names.isEmpty()) {
                return null;
            }
            long total = 0;
            for (ObjectName name : names) {
                Object v = server.getAttribute(name, METRIC);
                if (v instanceof Number num) {
                    total += num.longValue();
                }
            }
            return total;
        } catch (JMException e) {
            return null;
        }
    }
}
