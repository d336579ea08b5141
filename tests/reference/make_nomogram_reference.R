# Reference values for multisurv.evaluation.nomogram (Cox nomogram, as rms::nomogram draws it).
#
# Run from the repository root:
#     Rscript tests/reference/make_nomogram_reference.R
# It writes tests/reference/nomogram_reference.json, which the Python tests load (they never need R).
# Packages: R >= 4.2, survival, rms, jsonlite.
#
# Data: veteran (n = 137; tests/reference/data/veteran.csv, the numbers Python loads).
# Model: cph(Surv(time, status) ~ karno + age + diagtime + prior, method = "breslow", surv = TRUE), prior coded
# 0/1. Breslow ties make rms's baseline survival the Breslow estimator that multisurv's BreslowBaseline fits.
# nomogram(f, <variable> = <values>, fun = S(t | lp) at t = 90 and 180 days, fun.at = survival probabilities,
# lp = TRUE) gives the points of every value on every variable axis (0-100 for the widest axis), the total
# points of each survival probability, and the (centred) linear predictor axis.
suppressPackageStartupMessages({
    library(survival)
    library(rms)
    library(jsonlite)
})

v <- read.csv("tests/reference/data/veteran.csv")
d <- data.frame(time = v$time, status = v$status, karno = v$Karnofsky_score, age = v$Age_in_years,
                diagtime = v$Months_from_Diagnosis, prior = as.numeric(v$Prior_therapy == "yes"))
dd <- datadist(d)
options(datadist = "dd")
f <- cph(Surv(time, status) ~ karno + age + diagtime + prior, data = d, method = "breslow", x = TRUE, y = TRUE,
         surv = TRUE)
surv <- Survival(f)
values <- list(karno = seq(10, 100, by = 10), age = seq(30, 80, by = 10), diagtime = c(0, 20, 40, 60, 80),
               prior = c(0, 1))
fun_at <- c(0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05)
nom <- nomogram(f, karno = values$karno, age = values$age, diagtime = values$diagtime, prior = values$prior,
                fun = list(function(lp) surv(90, lp), function(lp) surv(180, lp)),
                funlabel = c("S90", "S180"), fun.at = fun_at, lp = TRUE)
axis <- function(a) list(points = unname(a$x), value = unname(a$x.real))
vars <- lapply(names(values), function(n) list(name = n, value = unname(nom[[n]][[n]]),
                                                points = unname(nom[[n]]$points)))
lp_grid <- c(-3, -2.5, -2, -1.5, -1, -0.5, 0)
out <- list(
    generated_with = list(R = paste(R.version$major, R.version$minor, sep = "."),
                          survival = as.character(packageVersion("survival")),
                          rms = as.character(packageVersion("rms"))),
    coef = as.list(coef(f)), center = unname(f$center), variables = vars,
    lp_axis = axis(nom[["lp"]]), s90 = axis(nom[["S90"]]), s180 = axis(nom[["S180"]]),
    total_points = list(points = unname(nom[["total.points"]]$x)),
    survival_at = list(lp_centred = lp_grid, s90 = unname(surv(90, lp_grid)), s180 = unname(surv(180, lp_grid))),
    fun_at = fun_at
)
write_json(out, "tests/reference/nomogram_reference.json", digits = 15, auto_unbox = TRUE, pretty = TRUE)
