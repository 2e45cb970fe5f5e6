# A pipeline is imported by its name: the document pipelines/<name>.json in the provider's
# registry. Every attribute is read from the document.
terraform import sluice_pipeline.clicks daily_clicks
