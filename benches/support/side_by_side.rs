//! The interleaved side-by-side comparison shared by the collector and ring
//! benchmarks (`MB_SIDE_BY_SIDE=<rounds> cargo bench --bench collector|rings`).
//!
//! Every round times one transfer through every contender, starting with a
//! different contender each round, so a noisy stretch of the shared host hits
//! them all alike. The report gives each contender's median and, for every
//! microbatch contender (named `mb_*`, listed first), the median over rounds
//! of its ratio to each other contender, with the range.
//!
//! Environment: `MB_ONLY=a,b` keeps only the named contenders;
//! `MB_SHOW_ROUNDS=1` also prints every round's figure.

/// The number of rounds asked for, if the side-by-side mode was asked for.
pub fn rounds_from_env() -> Option<usize> {
    let rounds = std::env::var("MB_SIDE_BY_SIDE").ok()?;
    Some(rounds.parse().expect("MB_SIDE_BY_SIDE must be a number of rounds"))
}

/// Whether `MB_ONLY` (if set) names this contender.
pub fn selected(name: &str) -> bool {
    match std::env::var("MB_ONLY") {
        Ok(only) => only.split(',').any(|o| o.trim() == name),
        Err(_) => true,
    }
}

/// Runs one untimed call per contender (paging buffers in, starting threads),
/// then `rounds` interleaved rounds. `measure(i)` runs contender `i` once and
/// returns its rate in M events/s. Returns the rates per contender.
pub fn interleave(contenders: usize, rounds: usize, mut measure: impl FnMut(usize) -> f64) -> Vec<Vec<f64>> {
    for i in 0..contenders {
        measure(i);
    }
    let mut rates = vec![Vec::with_capacity(rounds); contenders];
    for round in 0..rounds {
        for k in 0..contenders {
            let i = (round + k) % contenders;
            rates[i].push(measure(i));
        }
    }
    rates
}

/// Prints the medians and the microbatch/other ratios (see the module docs).
pub fn report(title: &str, names: &[&str], rates: &[Vec<f64>]) {
    println!("{title} (M events/s):");
    for (name, r) in names.iter().zip(rates) {
        println!("  {name:<22} median {:>7.1}   min {:>7.1}   max {:>7.1}", median(r), min(r), max(r));
        if std::env::var_os("MB_SHOW_ROUNDS").is_some() {
            println!("    {:?}", r.iter().map(|x| (x * 10.0).round() / 10.0).collect::<Vec<_>>());
        }
    }
    let mb = names.iter().take_while(|n| n.starts_with("mb_")).count();
    for i in 0..mb {
        for j in mb..names.len() {
            let ratios: Vec<f64> = rates[i].iter().zip(&rates[j]).map(|(a, b)| a / b).collect();
            println!(
                "  {} / {}: median ratio {:.2}x (range {:.2}-{:.2})",
                names[i],
                names[j],
                median(&ratios),
                min(&ratios),
                max(&ratios)
            );
        }
    }
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn min(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}
