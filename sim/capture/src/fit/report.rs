//! The loss fit as a report for people.

use super::*;

/// A probability as a percentage with two decimals.
pub(super) fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

impl fmt::Display for LossFit {
    /// The report: the loss counts, the three models with their 95% intervals in percent,
    /// which model AIC prefers and why, and the burst-length table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bursts: u64 = self.bursts.observed.iter().sum();
        write!(f, "{} datagrams, {} lost ({})", self.datagrams, self.lost, pct(self.bernoulli.value))?;
        match bursts {
            0 => writeln!(f, ".")?,
            1 => writeln!(f, ", in 1 burst (a run of consecutive losses) of {}.", self.bursts.longest)?,
            _ => writeln!(
                f,
                ", in {bursts} bursts (runs of consecutive losses), the longest {}.",
                self.bursts.longest
            )?,
        }

        // The models, one parameter a line.
        writeln!(f)?;
        let row = |f: &mut fmt::Formatter<'_>, model: &str, name: &str, e: &Estimate| {
            writeln!(f, "{model:<16} {name:<19} {:>8}   {} to {}", pct(e.value), pct(e.low), pct(e.high))
        };
        writeln!(f, "{:<16} {:<19} {:>8}   95% interval", "model", "parameter", "value")?;
        row(f, "Bernoulli", "loss", &self.bernoulli)?;
        match &self.gilbert {
            Some((p, r)) => {
                row(f, "Gilbert", "p (good to bad)", p)?;
                row(f, "", "r (bad to good)", r)?;
            }
            None => writeln!(
                f,
                "{:<16} not fitted: needs lost and kept datagrams, and a loss before the last",
                "Gilbert"
            )?,
        }
        match &self.gilbert_elliott {
            Some(ge) => {
                row(f, "Gilbert-Elliott", "p (good to bad)", &ge.p)?;
                row(f, "", "r (bad to good)", &ge.r)?;
                row(f, "", "loss in bad state", &ge.loss_bad)?;
                row(f, "", "loss in good state", &ge.loss_good)?;
                if !ge.converged {
                    writeln!(f, "{:<16} (not converged: stopped after {} iterations)", "", ge.iterations)?;
                }
            }
            None => writeln!(f, "{:<16} not fitted: needs lost and kept datagrams", "Gilbert-Elliott")?,
        }
        if self.gilbert.is_some() || self.gilbert_elliott.is_some() {
            writeln!(f, "p: the chance per datagram that a good spell turns bad; r: that a bad spell ends.")?;
        }

        // AIC.
        writeln!(f)?;
        let c = &self.comparison;
        let scores: Vec<String> = [Model::Bernoulli, Model::Gilbert, Model::GilbertElliott]
            .into_iter()
            .filter_map(|m| c.score(m).map(|s| format!("{} {:.1}", m.name(), s.aic)))
            .collect();
        writeln!(f, "AIC (lower is better, each parameter costs 2): {}.", scores.join(", "))?;
        let why = match c.preferred {
            Model::Bernoulli => {
                "losses look independent; the burst models' extra parameters do not pay for themselves"
            }
            Model::Gilbert => {
                "losses come in all-or-nothing bursts; two more parameters do not pay for themselves"
            }
            Model::GilbertElliott => {
                concat!(
                    "losses come in bursts that are not all-or-nothing ",
                    "(bad spells keep some datagrams, or good ones lose some)"
                )
            }
        };
        match c.margin() {
            Some(m) => writeln!(f, "AIC prefers {}, by {m:.1}:\n  {why}.", c.preferred.name())?,
            None => writeln!(f, "Only {} could be fitted.", c.preferred.name())?,
        }

        // Bursts.
        writeln!(f)?;
        writeln!(f, "Loss bursts by length, seen and expected from each model:")?;
        write!(f, "{:<16}", "length")?;
        for len in 1..BURST_BUCKETS {
            write!(f, " {len:>8}")?;
        }
        writeln!(f, " {:>8} {:>9}", format!(">={BURST_BUCKETS}"), "distance")?;
        write!(f, "{:<16}", "seen")?;
        for count in self.bursts.observed {
            write!(f, " {count:>8}")?;
        }
        writeln!(f)?;
        let predictions = [
            (Model::Bernoulli, Some(&self.bursts.bernoulli)),
            (Model::Gilbert, self.bursts.gilbert.as_ref()),
            (Model::GilbertElliott, self.bursts.gilbert_elliott.as_ref()),
        ];
        for (model, prediction) in predictions {
            let Some(prediction) = prediction else { continue };
            write!(f, "{:<16}", model.name())?;
            for e in prediction.expected {
                write!(f, " {e:>8.1}")?;
            }
            match prediction.distance {
                Some(d) => writeln!(f, " {d:>9.3}")?,
                None => writeln!(f, " {:>9}", "-")?,
            }
        }
        writeln!(f, "distance: total variation between the seen and the expected shares of each length")?;
        writeln!(f, "(0: the same shape, 1: nothing in common).")
    }
}
