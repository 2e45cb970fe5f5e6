# An EMR template is imported by its name: the document emr-templates/<name>.json in the
# provider's registry.
terraform import sluice_emr_template.spark spark_small
