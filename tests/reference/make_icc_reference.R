# Reference values for multisurv.features.reproducibility (ICC(2,1) and ICC(3,1) with 95 % intervals).
#
# Run from the repository root:
#     Rscript tests/reference/make_icc_reference.R
# It writes tests/reference/icc_reference.json, which the Python tests load (they never need R).
# Packages: R >= 4.2, psych (Debian r-cran-psych), jsonlite.
#
# Call, per feature (x: subjects in rows, raters in columns):
#     psych::ICC(x, alpha = 0.05, lmer = FALSE)   # classical two-way ANOVA mean squares (aov)
# rows "ICC2" (Single_random_raters: ICC(2,1), absolute agreement) and "ICC3" (Single_fixed_raters: ICC(3,1),
# consistency), with their "lower bound" / "upper bound"; MS of subjects, raters and error from the ANOVA.
#
# Data:
#  1. radiomics: PyRadiomics' own baseline feature values (tests/data/pyradiomics_baseline/*.csv, real CT and
#     MR tumours brain1, breast1, lung1) under three extraction variants that act like perturbations of
#     the image and contour: the plain setting, resampling and resegmentation (raters). Every original_*
#     feature of the texture and first-order classes (shape has no resegmentation column).
#  2. shrout_fleiss: the 6 targets x 4 judges of Shrout and Fleiss (1979), Table 2.
#  3. shrout_fleiss_na: the same with one missing rating; psych needs complete rows, so na.omit() first
#     (multisurv leaves an incomplete subject out of that feature only: the same thing).
suppressPackageStartupMessages({
    library(psych)
    library(jsonlite)
})

one <- function(x) {
    res <- psych::ICC(x, alpha = 0.05, lmer = FALSE)
    r <- res$results
    s <- res$stats
    list(icc2_1 = r["Single_random_raters", "ICC"],
         icc2_1_low = r["Single_random_raters", "lower bound"],
         icc2_1_high = r["Single_random_raters", "upper bound"],
         icc3_1 = r["Single_fixed_raters", "ICC"],
         icc3_1_low = r["Single_fixed_raters", "lower bound"],
         icc3_1_high = r["Single_fixed_raters", "upper bound"],
         f_subjects = r["Single_fixed_raters", "F"],
         ms_subjects = s["MS", "subjects"], ms_raters = s["MS", "Judges"], ms_error = s["MS", "Residual"],
         n_subjects = nrow(x))
}

cases <- c("brain1", "breast1", "lung1")
variants <- c("", "_resampling", "_resegmentation")
classes <- c("firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")
features <- list()
for (cls in classes) {
    b <- read.csv(file.path("tests/data/pyradiomics_baseline", paste0("baseline_", cls, ".csv")),
                  check.names = FALSE, stringsAsFactors = FALSE)
    rows <- b[startsWith(b$featureName, "original_"), ]
    for (i in seq_len(nrow(rows))) {
        x <- sapply(variants, function(v) as.numeric(rows[i, paste0(cases, v)]))
        x <- matrix(x, nrow = length(cases), dimnames = list(cases, paste0("plain", variants)))
        features[[rows$featureName[i]]] <- c(list(feature = rows$featureName[i]), one(x))
    }
}

sf <- matrix(c(9, 2, 5, 8, 6, 1, 3, 2, 8, 4, 6, 8, 7, 1, 2, 6, 10, 5, 6, 9, 6, 2, 4, 7), ncol = 4, byrow = TRUE)
sf_na <- sf
sf_na[3, 2] <- NA

out <- list(
    generated_with = list(R = as.character(getRversion()), psych = as.character(packageVersion("psych"))),
    call = "psych::ICC(x, alpha = 0.05, lmer = FALSE)",
    radiomics = list(cases = cases, variants = variants, classes = classes, features = unname(features)),
    shrout_fleiss = list(ratings = sf, result = one(sf)),
    shrout_fleiss_na = list(ratings = sf_na, result = one(na.omit(sf_na)))
)
write(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE), "tests/reference/icc_reference.json")
