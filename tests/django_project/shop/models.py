from django.db import models


class Order(models.Model):
    id = models.IntegerField(primary_key=True)
    shipped = models.BooleanField(default=False)

    class Meta:
        app_label = "shop"
        db_table = "shop_order"
