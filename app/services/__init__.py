"""Domain rules and transactions. No request objects, no templates: ids in, values out."""
