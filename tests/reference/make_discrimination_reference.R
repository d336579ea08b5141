# Reference values for multisurv's discrimination and prediction-error metrics (Uno's C, time-dependent AUC,
# Brier score, bootstrap intervals, paired C-index comparison).
#
# Run from the repository root:
#     .venv/bin/python tests/reference/data/export_sksurv_datasets.py   # (only if the CSVs are missing)
#     Rscript tests/reference/make_discrimination_reference.R
# It writes tests/reference/discrimination_reference.json, which the Python tests load (they never need R).
# Packages: R >= 4.2, survival, riskRegression, boot, jsonlite.
#
# Data: three real public datasets exported from scikit-survival's offline loaders to tests/reference/data/
# (veteran = survival::veteran, gbsg2, whas500), so R and Python read the same numbers. Each dataset gets a
# FIXED score: the linear predictor of a Cox model fitted here (Breslow ties), written to the JSON so both sides
# evaluate the same numbers; a smaller Cox model gives a second score for the paired comparison. Survival
# probabilities S(t | x) at the evaluation times come from the same full model (riskRegression::predictRisk,
# Breslow baseline) and are written to the JSON too.
#
# Sign: multisurv's risk is "higher = worse", so Harrell's and Uno's C are survival::concordance(...,
# reverse = TRUE) (a coxph fit is already treated that way).

suppressPackageStartupMessages({
  library(survival)
  library(riskRegression)
  library(boot)
  library(jsonlite)
})

out_file <- file.path("tests", "reference", "discrimination_reference.json")
data_dir <- file.path("tests", "reference", "data")

specs <- list(
  veteran = list(
    full = Surv(time, status) ~ Karnofsky_score + Age_in_years + Months_from_Diagnosis + Prior_therapy +
      Treatment + Celltype,
    reduced = Surv(time, status) ~ Karnofsky_score,
    # 100 is a censoring time (pins the G(t) convention for Brier controls); 200 is an event time (pins tau <=).
    times = c(30, 90, 100, 180, 365), tau = 200
  ),
  gbsg2 = list(
    full = Surv(time, status) ~ age + horTh + menostat + tsize + tgrade + pnodes + progrec + estrec,
    reduced = Surv(time, status) ~ pnodes + tgrade,
    times = c(365, 730, 1095, 1825), tau = 1814  # 1095 is a censoring time, 1814 an event time
  ),
  whas500 = list(
    full = Surv(time, status) ~ age + gender + hr + sysbp + diasbp + bmi + chf + sho + mitype + miord + cvd + afb +
      av3,
    reduced = Surv(time, status) ~ age,
    times = c(180, 365, 371, 730, 1095, 1825), tau = 1671  # 371: censoring; 1671: event
  )
)

cindex_entry <- function(fit) {
  list(cindex = unname(fit$concordance), var = unname(fit$var), std_err = sqrt(unname(fit$var)))
}

one_dataset <- function(name, spec) {
  d <- read.csv(file.path(data_dir, paste0(name, ".csv")), stringsAsFactors = TRUE)
  full <- coxph(spec$full, data = d, ties = "breslow", x = TRUE)
  reduced <- coxph(spec$reduced, data = d, ties = "breslow", x = TRUE)
  lp <- unname(predict(full, type = "lp"))
  lp2 <- unname(predict(reduced, type = "lp"))
  d$lp <- lp
  times <- spec$times
  tau <- spec$tau
  cens <- d$status == 0

  # Harrell's C, and its infinitesimal-jackknife variance.
  harrell <- concordance(Surv(time, status) ~ lp, data = d, reverse = TRUE)
  # Uno's C: timewt = "n/G2" (weights 1 / G(t-)^2, censoring KM from the same data); ymax = tau keeps events
  # with time <= tau as the earlier member of a pair.
  uno_all <- concordance(Surv(time, status) ~ lp, data = d, reverse = TRUE, timewt = "n/G2")
  uno_tau <- concordance(Surv(time, status) ~ lp, data = d, reverse = TRUE, timewt = "n/G2", ymax = tau)

  # Paired comparison of two models' C on the same patients: IJ covariance matrix, contrast full - reduced.
  both <- concordance(full, reduced)
  contrast <- c(1, -1)
  diff <- sum(contrast * both$concordance)
  diff_var <- drop(t(contrast) %*% both$var %*% contrast)
  z <- diff / sqrt(diff_var)

  # Time-dependent AUC (cumulative cases / dynamic controls, IPCW with a marginal KM censoring model) and Brier
  # score, with the model's predicted risks 1 - S(t | x) at each time.
  risk_t <- predictRisk(full, newdata = d, times = times)
  sc <- Score(list(full = risk_t), formula = Surv(time, status) ~ 1, data = d, times = times,
              metrics = c("auc", "brier"), cens.model = "km", null.model = FALSE, conf.int = FALSE,
              summary = "ibs")
  auc <- sc$AUC$score[model == "full"]
  brier <- sc$Brier$score[model == "full"]
  # Integrated Brier score with scikit-survival's convention: trapezoidal rule over the given times, divided by
  # (last - first). riskRegression's own "ibs" column (a different rule, kept for the record) is also written.
  ibs_trapezoid <- sum(diff(times) * (head(brier$Brier, -1) + tail(brier$Brier, -1)) / 2) / (max(times) - min(times))

  list(
    n = nrow(d), n_events = sum(d$status),
    formula_full = paste(deparse(spec$full, width.cutoff = 500), collapse = ""),
    formula_reduced = paste(deparse(spec$reduced, width.cutoff = 500), collapse = ""),
    lp = lp, lp_reduced = lp2,
    times = times, tau = tau,
    times_equal_to_a_censoring_time = times[times %in% d$time[cens]],
    tau_is_an_event_time = tau %in% d$time[d$status == 1],
    surv_prob = 1 - risk_t,
    harrell = c(cindex_entry(harrell), call = "concordance(Surv(time, status) ~ lp, reverse = TRUE)"),
    uno = c(cindex_entry(uno_all), call = "concordance(Surv(time, status) ~ lp, reverse = TRUE, timewt = 'n/G2')"),
    uno_tau = c(cindex_entry(uno_tau),
                call = "concordance(Surv(time, status) ~ lp, reverse = TRUE, timewt = 'n/G2', ymax = tau)"),
    comparison = list(
      cindex = unname(both$concordance), var = unname(both$var), difference = diff, var_difference = diff_var,
      z = z, p_value = 2 * pnorm(-abs(z)),
      call = "concordance(coxph(full), coxph(reduced)); contrast c(1, -1) with the IJ covariance matrix"
    ),
    auc = list(time = auc$times, auc = auc$AUC,
               call = "Score(list(risk), Surv(time, status) ~ 1, metrics = 'auc', cens.model = 'km', times)"),
    brier = list(time = brier$times, brier = brier$Brier, ibs_riskregression = brier$IBS,
                 ibs_trapezoid = ibs_trapezoid,
                 call = "Score(list(risk), Surv(time, status) ~ 1, metrics = 'brier', cens.model = 'km', times)")
  )
}

datasets <- lapply(names(specs), function(nm) one_dataset(nm, specs[[nm]]))
names(datasets) <- names(specs)

# Bootstrap intervals with boot::boot on veteran: Harrell's C of the full model's linear predictor. The resample
# indices go to the JSON, so Python can replay exactly these resamples and compare intervals, not Monte Carlo.
vet <- read.csv(file.path(data_dir, "veteran.csv"), stringsAsFactors = TRUE)
vet$lp <- datasets$veteran$lp
cstat <- function(d, i) concordance(Surv(time, status) ~ lp, data = d[i, ], reverse = TRUE)$concordance
set.seed(20240611)
b <- boot(vet, cstat, R = 200)
jack_L <- empinf(b, type = "jack")  # jackknife influence values: the acceleration scipy and multisurv use
ci_perc <- boot.ci(b, conf = 0.95, type = "perc")$percent[4:5]
ci_bca <- boot.ci(b, conf = 0.95, type = "bca", L = jack_L)$bca[4:5]
ci_bca_reg <- boot.ci(b, conf = 0.95, type = "bca")$bca[4:5]  # boot's default (regression) influence values
ci_perc90 <- boot.ci(b, conf = 0.90, type = "perc")$percent[4:5]
ci_bca90 <- boot.ci(b, conf = 0.90, type = "bca", L = jack_L)$bca[4:5]

ref <- list(
  meta = list(
    r_version = R.version.string,
    survival_version = as.character(packageVersion("survival")),
    riskRegression_version = as.character(packageVersion("riskRegression")),
    boot_version = as.character(packageVersion("boot")),
    jsonlite_version = as.character(packageVersion("jsonlite")),
    script = "tests/reference/make_discrimination_reference.R"
  ),
  datasets = datasets,
  bootstrap = list(
    dataset = "veteran", statistic = "Harrell's C of the full model's lp",
    call = "boot(veteran, function(d, i) concordance(Surv(time, status) ~ lp, data = d[i, ], reverse = TRUE)$concordance, R = 200)",
    t0 = unname(b$t0), t = as.vector(b$t),
    indices = unname(boot.array(b, indices = TRUE)),  # R x n, 1-based row numbers
    jack_L = unname(jack_L),
    perc_95 = ci_perc, bca_95 = ci_bca, bca_95_reg = ci_bca_reg, perc_90 = ci_perc90, bca_90 = ci_bca90
  )
)

writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, matrix = "rowmajor"), out_file)
cat("wrote", out_file, "\n")
