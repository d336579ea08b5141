# Reference values for multisurv.evaluation.binary and multisurv.evaluation.reclassification (issue 19).
#
# Run from the repository root:
#     Rscript tests/reference/make_binary_reference.R
# It writes tests/reference/binary_reference.json. Packages: survival, pROC, rms, jsonlite
# (Debian: r-cran-survival r-cran-proc r-cran-rms r-cran-jsonlite).
#
# Data: tests/reference/data/gbsg2.csv (German Breast Cancer Study Group 2, n = 686; exported from
# scikit-survival by data/export_sksurv_datasets.py). Binary endpoint: recurrence or death by 730 days;
# the 63 patients censored before 730 days are excluded (complete-case "event by t"), n = 623 (165 events).
# Model A ("clinical"): glm(y ~ age + tsize + pnodes); model B ("+ markers"): A + progrec + estrec + horTh +
# tgrade (dummies). Their fitted probabilities are written to the JSON so the Python tests check the metrics
# on the very same numbers.
#
# ResourceSelection (hoslem.test) and nricens / PredictABEL are not packaged for Debian, so Hosmer-Lemeshow,
# NRI and IDI are written out here in base R following hoslem.test's source (ResourceSelection 0.3-5) and the
# closed forms of Pencina et al. (2008, 2011).

suppressPackageStartupMessages({
  library(survival)
  library(pROC)
  library(rms)
  library(jsonlite)
})

d <- read.csv(file.path("tests", "reference", "data", "gbsg2.csv"))
d$horTh <- as.integer(d$horTh == "yes")
d$grade2 <- as.integer(d$tgrade == "II")
d$grade3 <- as.integer(d$tgrade == "III")
horizon <- 730
keep <- !(d$status == 0 & d$time < horizon)
b <- d[keep, ]
b$y <- as.integer(b$status == 1 & b$time <= horizon)

fa <- glm(y ~ age + tsize + pnodes, family = binomial, data = b)
fb <- glm(y ~ age + tsize + pnodes + progrec + estrec + horTh + grade2 + grade3, family = binomial, data = b)
pa <- unname(fitted(fa))
pb <- unname(fitted(fb))

# ---- AUC, DeLong
ra <- roc(b$y, pa, direction = "<", quiet = TRUE)
rb <- roc(b$y, pb, direction = "<", quiet = TRUE)
cia <- ci.auc(ra, method = "delong")
cib <- ci.auc(rb, method = "delong")
tst <- roc.test(rb, ra, method = "delong", paired = TRUE)
# A case with ties in the score: probabilities rounded to 1 decimal.
pr <- round(pb, 1)
rr <- roc(b$y, pr, direction = "<", quiet = TRUE)
cir <- ci.auc(rr, method = "delong")

# ---- Hosmer-Lemeshow (ResourceSelection::hoslem.test, its definition)
hoslem <- function(x, yhat, g = 10) {
  qq <- unique(quantile(yhat, probs = seq(0, 1, 1 / g)))
  cutyhat <- cut(yhat, breaks = qq, include.lowest = TRUE)
  observed <- xtabs(cbind(y0 = 1 - x, y1 = x) ~ cutyhat)
  expected <- xtabs(cbind(yhat0 = 1 - yhat, yhat1 = yhat) ~ cutyhat)
  chisq <- sum((observed - expected)^2 / expected)
  list(statistic = chisq, df = g - 2, p_value = 1 - pchisq(chisq, g - 2),
       observed = unname(observed[, 2]), expected = unname(expected[, 2]), n = unname(rowSums(observed)))
}
# A miscalibrated version of model B's probabilities (too extreme) and a tied one (rounded).
p_bad <- plogis(1.6 * qlogis(pb) + 0.3)
hl <- list(model_b = hoslem(b$y, pb), too_extreme = hoslem(b$y, p_bad), rounded_g8 = hoslem(b$y, pr, g = 8))

# ---- Logistic recalibration: model B fitted on the odd rows, validated on the even rows (rms::val.prob)
odd <- seq_len(nrow(b)) %% 2 == 1
fo <- glm(y ~ age + tsize + pnodes + progrec + estrec + horTh + grade2 + grade3, family = binomial, data = b[odd, ])
p_ext <- unname(predict(fo, newdata = b[!odd, ], type = "response"))
y_ext <- b$y[!odd]
vp <- val.prob(p_ext, y_ext, pl = FALSE)
citl <- unname(coef(glm(y_ext ~ 1, offset = qlogis(p_ext), family = binomial)))
slope_fit <- glm(y_ext ~ qlogis(p_ext), family = binomial)
vp_bad <- val.prob(p_bad, b$y, pl = FALSE)

# ---- NRI and IDI, binary outcome (Pencina et al. 2008)
nri_bin <- function(y, p_old, p_new, cut = NULL) {
  if (is.null(cut)) {
    up <- p_new > p_old; down <- p_new < p_old
  } else {
    co <- findInterval(p_old, cut); cn <- findInterval(p_new, cut)  # p >= cut falls in the upper category
    up <- cn > co; down <- cn < co
  }
  e <- y == 1
  ue <- mean(up[e]); de <- mean(down[e]); un <- mean(up[!e]); dn <- mean(down[!e])
  ne <- sum(e); nn <- sum(!e)
  list(nri = (ue - de) + (dn - un), nri_events = ue - de, nri_non_events = dn - un,
       se = sqrt((ue + de) / ne - (ue - de)^2 / ne + (un + dn) / nn - (un - dn)^2 / nn))
}
idi_bin <- function(y, p_old, p_new) {
  e <- y == 1
  dd <- p_new - p_old
  list(idi = mean(dd[e]) - mean(dd[!e]), slope_old = mean(p_old[e]) - mean(p_old[!e]),
       slope_new = mean(p_new[e]) - mean(p_new[!e]), se = sqrt(var(dd[e]) / sum(e) + var(dd[!e]) / sum(!e)))
}
cuts <- c(0.2, 0.4)

# ---- NRI (KM, Pencina, D'Agostino and Steyerberg 2011) and IDI (IPCW) at t0 for survival, all 686 patients
t0 <- 1095
ca <- coxph(Surv(time, status) ~ age + tsize + pnodes, data = d)
cb <- coxph(Surv(time, status) ~ age + tsize + pnodes + progrec + estrec + horTh + grade2 + grade3, data = d)
risk_at <- function(fit) 1 - unname(summary(survfit(fit, newdata = d), times = t0)$surv[1, ])
ra_t <- risk_at(ca)
rb_t <- risk_at(cb)
km_at <- function(time, status, t) {
  if (length(time) == 0) return(1)
  s <- summary(survfit(Surv(time, status) ~ 1), times = t, extend = TRUE)$surv
  if (length(s) == 0) 1 else s
}
nri_km <- function(time, status, r_old, r_new, t, cut = NULL) {
  if (is.null(cut)) {
    up <- r_new > r_old; down <- r_new < r_old
  } else {
    co <- findInterval(r_old, cut); cn <- findInterval(r_new, cut)
    up <- cn > co; down <- cn < co
  }
  s <- km_at(time, status, t)
  su <- km_at(time[up], status[up], t); sd <- km_at(time[down], status[down], t)
  pu <- mean(up); pd <- mean(down)
  ne <- ((1 - su) * pu - (1 - sd) * pd) / (1 - s)
  nn <- (sd * pd - su * pu) / s
  list(nri = ne + nn, nri_events = ne, nri_non_events = nn)
}
idi_ipcw <- function(time, status, r_old, r_new, t) {
  gfit <- survfit(Surv(time, 1 - status) ~ 1)
  G <- stepfun(gfit$time, c(1, gfit$surv))           # right-continuous G(s)
  case <- status == 1 & time <= t
  control <- time > t
  # G(T-): the value just before T, i.e. the step function at the largest censoring time < T
  g_minus <- sapply(time[case], function(s) { k <- sum(gfit$time < s); if (k == 0) 1 else gfit$surv[k] })
  w <- 1 / g_minus
  so <- sum(w * r_old[case]) / sum(w) - mean(r_old[control])
  sn <- sum(w * r_new[case]) / sum(w) - mean(r_new[control])
  list(idi = sn - so, slope_old = so, slope_new = sn)
}

# ---- decision curve, binary (Vickers and Elkin 2006; dcurves::dca's definition, dcurves not in Debian)
thr <- seq(0.05, 0.6, by = 0.05)
nb <- sapply(thr, function(pt) {
  pos <- pb >= pt
  sum(pos & b$y == 1) / nrow(b) - sum(pos & b$y == 0) / nrow(b) * pt / (1 - pt)
})
prev <- mean(b$y)
dca <- list(thresholds = thr, net_benefit = nb, treat_all = prev - (1 - prev) * thr / (1 - thr),
            n_positive = sapply(thr, function(pt) sum(pb >= pt)))

ref <- list(
  meta = list(
    r_version = R.version.string,
    survival_version = as.character(packageVersion("survival")),
    pROC_version = as.character(packageVersion("pROC")),
    rms_version = as.character(packageVersion("rms")),
    script = "tests/reference/make_binary_reference.R"
  ),
  horizon = horizon, rows = which(keep) - 1L, y = b$y, p_a = pa, p_b = pb, p_rounded = pr, p_bad = p_bad,
  coef_a = unname(coef(fa)), coef_b = unname(coef(fb)),
  auc = list(
    a = list(auc = as.numeric(ra$auc), lower = cia[1], upper = cia[3], var = var(ra, method = "delong")),
    b = list(auc = as.numeric(rb$auc), lower = cib[1], upper = cib[3], var = var(rb, method = "delong")),
    rounded = list(auc = as.numeric(rr$auc), lower = cir[1], upper = cir[3], var = var(rr, method = "delong")),
    test_b_vs_a = list(z = unname(tst$statistic), p_value = tst$p.value,
                       lower = if (is.null(tst$conf.int)) NA else tst$conf.int[1],
                       upper = if (is.null(tst$conf.int)) NA else tst$conf.int[2])
  ),
  hoslem = hl,
  val_prob = list(odd_even = list(p = p_ext, y = y_ext, intercept = unname(vp["Intercept"]),
                                  slope = unname(vp["Slope"]), brier = unname(vp["Brier"]),
                                  c = unname(vp["C (ROC)"]), dxy = unname(vp["Dxy"]), citl = citl,
                                  slope_se = unname(sqrt(diag(vcov(slope_fit)))[2])),
                  too_extreme = list(intercept = unname(vp_bad["Intercept"]), slope = unname(vp_bad["Slope"]),
                                     brier = unname(vp_bad["Brier"]))),
  nri = list(continuous = nri_bin(b$y, pa, pb), categorical = nri_bin(b$y, pa, pb, cuts), cutoffs = cuts),
  idi = idi_bin(b$y, pa, pb),
  dca = dca,
  survival = list(t0 = t0, risk_a = ra_t, risk_b = rb_t,
                  nri_continuous = nri_km(d$time, d$status, ra_t, rb_t, t0),
                  nri_categorical = nri_km(d$time, d$status, ra_t, rb_t, t0, cuts),
                  idi = idi_ipcw(d$time, d$status, ra_t, rb_t, t0))
)
out_file <- file.path("tests", "reference", "binary_reference.json")
writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, pretty = TRUE), out_file)
cat("wrote", out_file, "\n")
str(ref$auc); str(ref$nri); str(ref$survival$nri_categorical); str(ref$val_prob$odd_even[-(1:2)])
