# Reference values for multisurv's Kaplan-Meier, log-rank and Cox functions (issue 3).
#
# Run from the repository root:
#     .venv/bin/python tests/reference/data/export_km_datasets.py   # only if the CSVs are missing
#     Rscript tests/reference/make_km_cox_reference.R
# It writes tests/reference/km_cox_reference.json, which the Python tests load (they never need R).
# Packages: R >= 4.2, survival >= 3.0 (cox.zph's score test), jsonlite.
#
# Data: four real public datasets that scikit-survival ships offline, exported to
# tests/reference/data/km_*.csv by tests/reference/data/export_km_datasets.py, so R reads the very numbers the
# Python tests get from the loaders:
#   km_veteran.csv  load_veterans_lung_cancer() = survival::veteran (checked row by row below), n = 137
#   km_gbsg2.csv    load_gbsg2()   German Breast Cancer Study Group 2, n = 686
#   km_whas500.csv  load_whas500() Worcester Heart Attack Study, n = 500
#   km_aids.csv     load_aids()    ACTG 320 AIDS trial, n = 1151 (8% events: medians not reached)
#
# What is computed, per dataset:
#   km       survfit(Surv(time, status) ~ 1) overall and per level of a grouping column, with
#            conf.type = "log" (R's default), "log-log" and "plain": every row of the survfit object,
#            summary(fit, times = ...) with extend = FALSE and TRUE, and the median with its CI as
#            print(fit) shows it (summary(fit)$table) and as quantile(fit, 0.5) gives it.
#   logrank  survdiff(Surv(time, status) ~ group [+ strata(s)], rho = 0, 0.5 or 1).
#   group_hr coxph(Surv(time, status) ~ factor(group), ties = "efron"): each group's HR against the first.
#   cox      coxph(Surv(time, status) ~ ..., ties = "efron"): coefficients, se, HR, 95% CI, Wald z and p,
#            log-likelihoods, likelihood-ratio / Wald / score tests, and cox.zph(fit, transform = ) "km" (the
#            default), "identity", "rank" and "log" (per term chisq, df, p and GLOBAL).
# Plus hand-made cases for the median's flat-stretch rules.

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

stopifnot(packageVersion("survival") >= "3.0")
data_dir <- file.path("tests", "reference", "data")
out_file <- file.path("tests", "reference", "km_cox_reference.json")
conf_types <- c("log", "log-log", "plain")

read_data <- function(name) {
  read.csv(file.path(data_dir, paste0(name, ".csv")), stringsAsFactors = FALSE)
}

# NA / NaN / Inf become JSON null (jsonlite's na = "null"); the Python side reads them as NaN.
num <- function(x) unname(as.numeric(x))
# A vector that stays a JSON array even with one element (auto_unbox would make it a scalar).
vec <- function(x) I(num(x))

km_rows <- function(fit) {
  list(time = vec(fit$time), n_risk = vec(fit$n.risk), n_event = vec(fit$n.event),
       n_censor = vec(fit$n.censor), surv = vec(fit$surv), std_err = vec(fit$std.err))
}

summary_rows <- function(fit, times, extend) {
  s <- summary(fit, times = times, extend = extend)
  list(time = vec(s$time), n_risk = vec(s$n.risk), n_event = vec(s$n.event), n_censor = vec(s$n.censor),
       surv = vec(s$surv), std_err = vec(s$std.err), lower = vec(s$lower), upper = vec(s$upper))
}

median_print <- function(fit) {
  tab <- summary(fit)$table
  list(median = num(tab[["median"]]), lower = num(tab[["0.95LCL"]]), upper = num(tab[["0.95UCL"]]))
}

median_quantile <- function(fit) {
  q <- quantile(fit, probs = 0.5)
  list(median = num(q$quantile), lower = num(q$lower), upper = num(q$upper))
}

km_entry <- function(d, times, by = NULL, level = NULL) {
  sub <- if (is.null(by)) d else d[d[[by]] == level, ]
  base <- survfit(Surv(time, status) ~ 1, data = sub)
  entry <- c(list(by = by, group = if (is.null(level)) NULL else as.character(level), n = nrow(sub),
                  n_events = sum(sub$status)), km_rows(base))
  entry$conf <- list()
  entry$summary <- list(times = I(times))
  entry$median_print <- list()
  entry$median_quantile <- list()
  for (ct in conf_types) {
    fit <- survfit(Surv(time, status) ~ 1, data = sub, conf.type = ct)
    stopifnot(isTRUE(all.equal(fit$surv, base$surv)))
    entry$conf[[ct]] <- list(lower = vec(fit$lower), upper = vec(fit$upper))
    entry$summary[[ct]] <- summary_rows(fit, times, extend = FALSE)
    entry$summary[[paste0(ct, "_extend")]] <- summary_rows(fit, times, extend = TRUE)
    entry$median_print[[ct]] <- median_print(fit)
    entry$median_quantile[[ct]] <- median_quantile(fit)
  }
  entry
}

logrank_entry <- function(d, group, strata = NULL, rho = 0) {
  rhs <- if (is.null(strata)) group else paste0(group, " + strata(", strata, ")")
  f <- as.formula(paste("Surv(time, status) ~", rhs))
  fit <- survdiff(f, data = d, rho = rho)
  obs <- if (is.matrix(fit$obs)) rowSums(fit$obs) else fit$obs
  exp <- if (is.matrix(fit$exp)) rowSums(fit$exp) else fit$exp
  labels <- sub(".*=", "", names(fit$n))
  df <- sum(exp > 0) - 1
  list(call = paste0("survdiff(", deparse(f), ", rho = ", rho, ")"), group = group, strata = strata, rho = rho,
       chisq = num(fit$chisq), df = df, p_value = pchisq(fit$chisq, df, lower.tail = FALSE),
       n = as.list(setNames(num(fit$n), labels)), observed = as.list(setNames(num(obs), labels)),
       expected = as.list(setNames(num(exp), labels)))
}

zph_entry <- function(fit, transform) {
  z <- cox.zph(fit, transform = transform)
  tab <- z$table
  list(transform = transform, terms = I(rownames(tab)[rownames(tab) != "GLOBAL"]),
       chisq = as.list(setNames(num(tab[, "chisq"]), rownames(tab))),
       df = as.list(setNames(num(tab[, "df"]), rownames(tab))),
       p = as.list(setNames(num(tab[, "p"]), rownames(tab))))
}

cox_entry <- function(d, covariates) {
  f <- as.formula(paste("Surv(time, status) ~", paste(covariates, collapse = " + ")))
  fit <- coxph(f, data = d, ties = "efron")
  s <- summary(fit)
  cf <- s$coefficients
  ci <- s$conf.int
  test <- function(t) list(statistic = num(t[["test"]]), df = num(t[["df"]]), p_value = num(t[["pvalue"]]))
  list(call = paste0("coxph(", deparse(f), ", ties = 'efron')"), covariates = covariates,
       names = I(rownames(cf)), coef = vec(cf[, "coef"]), se = vec(cf[, "se(coef)"]), hr = vec(cf[, "exp(coef)"]),
       lower = vec(ci[, "lower .95"]), upper = vec(ci[, "upper .95"]), z = vec(cf[, "z"]),
       p_value = vec(cf[, "Pr(>|z|)"]), loglik = vec(fit$loglik), n = fit$n, n_events = fit$nevent,
       # summary() rounds the Wald statistic to 2 decimals (its p-value is not rounded): take fit$wald.test.
       iterations = fit$iter, lr_test = test(s$logtest),
       wald_test = test(c(test = unname(fit$wald.test), df = length(fit$coefficients),
                          pvalue = pchisq(unname(fit$wald.test), length(fit$coefficients), lower.tail = FALSE))),
       score_test = test(s$sctest),
       zph = lapply(setNames(nm = c("km", "identity", "rank", "log")), function(tr) zph_entry(fit, tr)))
}

# Hazard ratios between the groups of one column, the first level (sorted) as reference, as `multisurv km`
# reports them: coxph(Surv(time, status) ~ factor(group), ties = "efron").
group_hr_entry <- function(d, by) {
  g <- factor(as.character(d[[by]]), levels = sort(unique(as.character(d[[by]]))))
  fit <- coxph(Surv(d$time, d$status) ~ g, ties = "efron")
  s <- summary(fit)
  list(by = by, levels = levels(g), hr = vec(s$conf.int[, "exp(coef)"]), lower = vec(s$conf.int[, "lower .95"]),
       upper = vec(s$conf.int[, "upper .95"]), p_value = vec(s$coefficients[, "Pr(>|z|)"]),
       score_test = num(s$sctest[["test"]]))
}

dataset_entry <- function(name, d, km_by, times, logranks, covariates) {
  km <- list(km_entry(d, times))
  for (by in km_by) {
    for (level in sort(unique(d[[by]]))) km[[length(km) + 1]] <- km_entry(d, times, by, level)
  }
  list(csv = file.path(data_dir, paste0(name, ".csv")), n = nrow(d), n_events = sum(d$status), km = km,
       logrank = lapply(logranks, function(a) do.call(logrank_entry, c(list(d), a))),
       group_hr = lapply(km_by, function(by) group_hr_entry(d, by)),
       cox = cox_entry(d, covariates))
}

# --- the data ----------------------------------------------------------------------------------------------

veteran <- read_data("km_veteran")
ref_vet <- survival::veteran
stopifnot(nrow(veteran) == nrow(ref_vet), all(veteran$time == ref_vet$time), all(veteran$status == ref_vet$status),
          all(veteran$trt == ref_vet$trt), all(veteran$celltype == as.character(ref_vet$celltype)),
          all(veteran$karno == ref_vet$karno), all(veteran$diagtime == ref_vet$diagtime),
          all(veteran$age == ref_vet$age), all(veteran$prior == ref_vet$prior))
gbsg2 <- read_data("km_gbsg2")
whas500 <- read_data("km_whas500")
aids <- read_data("km_aids")

datasets <- list(
  veteran = dataset_entry(
    "km_veteran", veteran, km_by = c("trt", "celltype"),
    times = c(0.5, 1, 30, 90, 100, 180, 365, 999, 1000),
    logranks = list(list(group = "trt"), list(group = "celltype"), list(group = "trt", strata = "celltype"),
                    list(group = "celltype", rho = 1), list(group = "celltype", strata = "prior", rho = 1)),
    covariates = c("karno", "age", "diagtime", "prior", "trt", "celltype")),
  gbsg2 = dataset_entry(
    "km_gbsg2", gbsg2, km_by = c("horTh", "tgrade"),
    times = c(5, 365, 730, 1000, 1825, 2500, 2659, 3000),
    logranks = list(list(group = "horTh"), list(group = "tgrade"), list(group = "horTh", strata = "menostat"),
                    list(group = "horTh", strata = "tgrade"), list(group = "tgrade", rho = 1)),
    covariates = c("horTh", "age", "menostat", "tsize", "tgrade", "pnodes", "progrec", "estrec")),
  whas500 = dataset_entry(
    "km_whas500", whas500, km_by = c("gender", "chf"),
    times = c(1, 30, 365, 1000, 1825, 2358, 2500),
    logranks = list(list(group = "gender"), list(group = "chf"), list(group = "chf", strata = "gender"),
                    list(group = "chf", strata = "afb", rho = 0.5)),
    covariates = c("age", "gender", "hr", "bmi", "chf", "sysbp")),
  aids = dataset_entry(
    "km_aids", aids, km_by = c("tx"),
    times = c(1, 90, 180, 300, 364, 400),
    logranks = list(list(group = "tx"), list(group = "ivdrug"), list(group = "tx", strata = "strat2"),
                    list(group = "tx", rho = 1)),
    covariates = c("tx", "age", "cd4", "karnof"))
)

# --- hand-made cases for the median rules (print.survfit vs quantile.survfit) ----------------------------
# flat_at_half: S = 0.5 on [2, 4), then 0 at 4 -> both rules give the midpoint (2 + 4) / 2 = 3.
# ends_at_half: S = 0.5 from 2 to the last follow-up at 4 -> print gives 2, quantile gives (2 + 4) / 2 = 3.
# never_half:   S stays at 0.8 after the first event -> NA.
# all_censored: S = 1 throughout -> NA.
# drops_past:   S jumps from 0.6 to 0.48 at 5 -> 5.
median_cases <- list(
  flat_at_half = data.frame(time = c(1, 2, 3, 4), status = c(1, 1, 0, 1)),
  ends_at_half = data.frame(time = c(1, 2, 3, 4), status = c(1, 1, 0, 0)),
  never_half = data.frame(time = c(1, 2, 3, 4, 5), status = c(1, 0, 0, 0, 0)),
  all_censored = data.frame(time = c(1, 2, 3), status = c(0, 0, 0)),
  drops_past = data.frame(time = c(1, 2, 3, 3, 4, 5, 6, 7, 8, 9), status = c(1, 1, 1, 1, 0, 1, 0, 0, 1, 0))
)
median_ref <- lapply(median_cases, function(d) {
  entry <- list(time = d$time, status = d$status, median_print = list(), median_quantile = list())
  for (ct in conf_types) {
    fit <- survfit(Surv(time, status) ~ 1, data = d, conf.type = ct)
    entry$median_print[[ct]] <- median_print(fit)
    entry$median_quantile[[ct]] <- median_quantile(fit)
  }
  entry
})

ref <- list(
  meta = list(
    r_version = R.version.string,
    survival_version = as.character(packageVersion("survival")),
    jsonlite_version = as.character(packageVersion("jsonlite")),
    script = "tests/reference/make_km_cox_reference.R",
    conf_level = 0.95
  ),
  datasets = datasets,
  median_cases = median_ref
)

writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, na = "null", null = "null", pretty = TRUE), out_file)
cat("wrote", out_file, "\n")
