# Reference values for multisurv.evaluation.cutoffs (maximally selected log-rank statistics).
#
# Run from the repository root:
#     Rscript tests/reference/make_cutoff_reference.R
# It writes tests/reference/cutoff_reference.json, which the Python tests load (they never need R).
# Packages: R >= 4.2, survival, maxstat, jsonlite.
#
# Data: gbsg2 (German Breast Cancer Study Group 2, n = 686; tests/reference/data/gbsg2.csv) and veteran
# (n = 137; tests/reference/data/veteran.csv), the same numbers Python loads.
# For each continuous variable x:
#     maxstat.test(Surv(time, status) ~ x, smethod = "LogRank", pmethod = "Lau92", minprop = 0.1, maxprop = 0.9)
# gives the cut-off (patients with x <= cut-off form one group), the standardised statistic, the Lausen &
# Schumacher (1992) corrected p-value and the statistic at every candidate cut-off; pmethod = "condMC" with
# B = 20000 gives the Monte Carlo (conditional permutation) p-value. Tertiles: quantile(x, c(1/3, 2/3)) (type 7).
suppressPackageStartupMessages({
    library(survival)
    library(maxstat)
    library(jsonlite)
})

one <- function(data, dataset, variable) {
    d <- data.frame(time = data$time, status = data$status, x = as.numeric(data[[variable]]))
    lau <- maxstat.test(Surv(time, status) ~ x, data = d, smethod = "LogRank", pmethod = "Lau92",
                        minprop = 0.1, maxprop = 0.9)
    set.seed(20261123)
    mc <- maxstat.test(Surv(time, status) ~ x, data = d, smethod = "LogRank", pmethod = "condMC",
                       minprop = 0.1, maxprop = 0.9, B = 20000)
    list(dataset = dataset, variable = variable,
         estimate = unname(lau$estimate), statistic = unname(lau$statistic), p_lau92 = lau$p.value,
         p_condmc = mc$p.value, condmc_B = 20000,
         cuts = unname(lau$cuts), stats = unname(lau$stats),
         tertiles = unname(quantile(d$x, c(1, 2) / 3, type = 7)), median = median(d$x))
}

gbsg2 <- read.csv("tests/reference/data/gbsg2.csv")
veteran <- read.csv("tests/reference/data/veteran.csv")
cases <- list(
    one(gbsg2, "gbsg2", "age"),
    one(gbsg2, "gbsg2", "tsize"),
    one(gbsg2, "gbsg2", "pnodes"),
    one(gbsg2, "gbsg2", "progrec"),
    one(veteran, "veteran", "Karnofsky_score"),
    one(veteran, "veteran", "Age_in_years")
)
out <- list(generated_with = list(R = paste(R.version$major, R.version$minor, sep = "."),
                                  survival = as.character(packageVersion("survival")),
                                  maxstat = as.character(packageVersion("maxstat"))),
            minprop = 0.1, maxprop = 0.9, cases = cases)
write_json(out, "tests/reference/cutoff_reference.json", digits = 15, auto_unbox = TRUE, pretty = TRUE)
